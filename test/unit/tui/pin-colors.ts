// Imported first by every TUI test: chalk decides its colour level when ink loads, so the frames
// are plain text (no ANSI) whatever terminal runs the tests.
process.env.FORCE_COLOR = "0";
process.env.NO_COLOR = "1";
