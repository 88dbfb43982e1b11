// Ink imports react-devtools-core only when DEV=true; the compiled binary never enables it.
// `bun build --compile` still has to resolve the import, so it resolves here.
export default { initialize() {}, connectToDevTools() {} };
