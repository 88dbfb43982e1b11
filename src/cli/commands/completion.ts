import * as v from "valibot";
import { arg, defineCommand, fieldMeta, globalOptions, kebab, type Command } from "../define.ts";
import { UsageError } from "../../errors.ts";

interface Node {
  words: string[];
  flags: string[];
}

/** Every prefix of every visible command path, with what may follow it. */
function table(commands: Command[]): Map<string, Node> {
  const globals = Object.entries(globalOptions.entries).flatMap(([k, s]) => {
    const m = fieldMeta(s as v.GenericSchema)!.meta;
    return [`--${kebab(k)}`, ...(m.short ? [`-${m.short}`] : [])];
  });
  const t = new Map<string, Node>();
  const node = (key: string) => t.get(key) ?? t.set(key, { words: [], flags: [...globals] }).get(key)!;
  for (const c of commands.filter((x) => !x.hidden)) {
    for (let i = 0; i < c.path.length; i++) {
      const n = node(c.path.slice(0, i).join(" "));
      if (!n.words.includes(c.path[i]!)) n.words.push(c.path[i]!);
    }
    const leaf = node(c.path.join(" "));
    for (const [k, s] of Object.entries(c.options.entries)) {
      const m = fieldMeta(s as v.GenericSchema)?.meta;
      if (m && m.kind !== "arg") leaf.flags.push(`--${kebab(k)}`);
    }
  }
  return t;
}

function bash(t: Map<string, Node>): string {
  const cases = [...t].map(([k, n]) => `    "${k}") words="${n.words.join(" ")}"; flags="${n.flags.join(" ")}" ;;`).join("\n");
  return `# devx bash completion: source <(devx completion bash)
_devx() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w words flags
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$w" in -*) ;; *) path="\${path:+$path }$w" ;; esac
  done
  case "$path" in
${cases}
    *) words=""; flags="" ;;
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
  else COMPREPLY=( $(compgen -W "$words" -- "$cur") ); fi
}
complete -F _devx devx
`;
}

function zsh(t: Map<string, Node>): string {
  const cases = [...t].map(([k, n]) => `    "${k}") words=(${n.words.join(" ")}); flags=(${n.flags.join(" ")}) ;;`).join("\n");
  return `#compdef devx
# devx zsh completion: devx completion zsh > "\${fpath[1]}/_devx"
_devx() {
  local -a words flags
  local path="" w
  for w in "\${(@)words[2,CURRENT-1]}"; do
    [[ "$w" == -* ]] || path="\${path:+$path }$w"
  done
  case "$path" in
${cases}
  esac
  if [[ "$PREFIX" == -* ]]; then compadd -a flags; else compadd -a words; fi
}
compdef _devx devx
`;
}

function fish(t: Map<string, Node>): string {
  const lines = [
    "# devx fish completion: devx completion fish > ~/.config/fish/completions/devx.fish",
    "function __devx_path",
    "    set -l p",
    "    for w in (commandline -opc)[2..-1]",
    "        string match -q -- '-*' $w; or set -a p $w",
    "    end",
    "    string join ' ' $p",
    "end",
    "complete -c devx -f",
  ];
  for (const [k, n] of t) {
    const cond = `test (__devx_path) = '${k}'`;
    if (n.words.length) lines.push(`complete -c devx -n "${cond}" -a '${n.words.join(" ")}'`);
    for (const f of n.flags.filter((x) => x.startsWith("--"))) lines.push(`complete -c devx -n "${cond}" -l ${f.slice(2)}`);
  }
  return lines.join("\n") + "\n";
}

export default defineCommand({
  path: ["completion"],
  group: "Help & setup",
  dryRun: "read-only",
  summary: "print a shell completion script (bash, zsh or fish)",
  examples: ["source <(devx completion bash)", "devx completion fish > ~/.config/fish/completions/devx.fish"],
  options: v.object({ shell: arg("bash, zsh or fish", { placeholder: "shell" }) }),
  async run(opts, deps) {
    const { commands } = await import("./index.ts");
    const t = table(commands);
    const gen = { bash, zsh, fish }[opts.shell as "bash"];
    if (!gen) throw new UsageError(`unsupported shell "${opts.shell}"`, "use bash, zsh or fish");
    deps.io.out.write(gen(t));
  },
});
