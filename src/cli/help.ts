import { GROUP_ORDER, fieldMeta, globalOptions, kebab, type Command, type FieldMeta } from "./define.ts";
import { commandFields, usageLine } from "./parse.ts";
import { exitCodesTable } from "./exit-codes.ts";
import type * as v from "valibot";

const pad = (s: string, n: number) => (s.length >= n ? `${s}  ` : s.padEnd(n));

function flagLabel(name: string, m: FieldMeta): string {
  const short = m.short ? `-${m.short}, ` : "    ";
  const value = m.kind === "flag" ? "" : ` <${m.placeholder ?? (m.choices ? m.choices.join("|") : name)}>`;
  return `${short}--${name}${value}`;
}

function flagLines(fields: Array<{ name: string; meta: FieldMeta; dflt?: unknown }>): string[] {
  const labels = fields.map((f) => flagLabel(f.name, f.meta));
  const width = Math.min(34, Math.max(...labels.map((l) => l.length), 0) + 2);
  return fields.map((f, i) => {
    const extra = f.meta.kind === "list" ? " (repeatable)" : f.dflt !== undefined && f.dflt !== false && !(Array.isArray(f.dflt) && f.dflt.length === 0) ? ` (default ${JSON.stringify(f.dflt)})` : "";
    return `  ${pad(labels[i]!, width)}${f.meta.description}${extra}`;
  });
}

function globalFlagLines(): string[] {
  const fields = Object.entries(globalOptions.entries).map(([k, s]) => {
    const f = fieldMeta(s as v.GenericSchema)!;
    return { name: kebab(k), meta: f.meta };
  });
  return flagLines(fields);
}

export function rootHelp(commands: Command[]): string {
  const visible = commands.filter((c) => !c.hidden);
  const width = Math.max(...visible.map((c) => c.path.join(" ").length)) + 4;
  const lines = [
    "devx — one tool for the dev environment: VMs, tunnels, cluster bridge, shared snapshots, service graphs.",
    "",
    "Usage:",
    "  devx <command> [flags]",
    "  devx [-f devx.yaml]       open the dashboard (on a terminal)",
    "  devx --version",
    "",
  ];
  for (const g of GROUP_ORDER) {
    const cs = visible.filter((c) => c.group === g);
    if (cs.length === 0) continue;
    lines.push(`${g}:`);
    for (const c of cs) lines.push(`  ${pad(c.path.join(" "), width)}${c.summary}`);
    lines.push("");
  }
  lines.push("Global flags:", ...globalFlagLines(), "");
  lines.push("Run `devx help <command>` for its flags, `devx help exit-codes` for exit codes.");
  return lines.join("\n") + "\n";
}

export function commandHelp(cmd: Command): string {
  const { options, args } = commandFields(cmd);
  const lines = [`${cmd.summary}`, "", "Usage:", `  ${usageLine(cmd)}`, ""];
  if (cmd.description) lines.push(cmd.description.trim(), "");
  if (args.length) {
    lines.push("Arguments:");
    const width = Math.max(...args.map((a) => (a.meta.placeholder ?? a.name).length)) + 6;
    for (const a of args) lines.push(`  ${pad(`<${a.meta.placeholder ?? a.name}>`, width)}${a.meta.description}`);
    lines.push("");
  }
  if (options.length) {
    const dflts = new Map(Object.entries(cmd.options.entries).map(([k, s]) => [kebab(k), fieldMeta(s as v.GenericSchema)?.defaultValue]));
    lines.push("Flags:", ...flagLines(options.map((o) => ({ name: o.name, meta: o.meta, dflt: dflts.get(o.name) }))), "");
  }
  if (cmd.examples?.length) lines.push("Examples:", ...cmd.examples.map((e) => `  ${e}`), "");
  lines.push("Global flags:", ...globalFlagLines());
  return lines.join("\n") + "\n";
}

export function groupHelp(prefix: string[], commands: Command[]): string {
  const cs = commands.filter((c) => !c.hidden && prefix.every((w, i) => c.path[i] === w));
  const width = Math.max(...cs.map((c) => c.path.join(" ").length)) + 4;
  const lines = [`Usage: devx ${prefix.join(" ")} <command> [flags]`, "", "Commands:"];
  for (const c of cs) lines.push(`  ${pad(c.path.join(" "), width)}${c.summary}`);
  lines.push("", `Run \`devx help ${prefix.join(" ")} <command>\` for its flags.`);
  return lines.join("\n") + "\n";
}

export function exitCodesHelp(): string {
  return `Exit codes:\n${exitCodesTable()}\n`;
}
