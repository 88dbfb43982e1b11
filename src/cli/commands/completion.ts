import * as v from "valibot";
import { arg, defineCommand } from "../define.ts";

const SHELLS = ["bash", "zsh", "fish"] as const;

/**
 * The scripts are thin: on Tab they ask `devx __complete <words…>` (src/cli/complete.ts), the way
 * cobra's do, so commands, flags, flag values (file names after -f) and names from local state
 * (databases, snapshots, nodes) all come from the one registry. They call the binary the line
 * starts with, so `./dist/devx <Tab>` completes too once registered for that name.
 */
const BASH = `# devx bash completion: source <(devx completion bash)
# (or save it as ~/.local/share/bash-completion/completions/devx)
_devx() {
  local cur words cword out directive line
  if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
    _get_comp_words_by_ref -n =: cur words cword
  else
    cur="\${COMP_WORDS[COMP_CWORD]}"; words=("\${COMP_WORDS[@]}"); cword=$COMP_CWORD
  fi
  out="$("\${words[0]}" __complete "\${words[@]:1:cword}" 2>/dev/null)" || return 0
  directive="\${out##*$'\\n'}"
  local -a devx_values=()
  while IFS= read -r line; do
    [[ -n "$line" && "$line" != :* ]] && devx_values+=("\${line%%$'\\t'*}")
  done <<< "$out"
  COMPREPLY=()
  case "$directive" in
    :files) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    :default) if ((\${#devx_values[@]})); then COMPREPLY=("\${devx_values[@]}"); else compopt -o default 2>/dev/null; fi ;;
    *) COMPREPLY=("\${devx_values[@]}") ;;
  esac
}
complete -F _devx devx
`;

// no `local -a words` or `local path`: in zsh those are the completion system's words and the
// command search path, and a local copy hides them
const ZSH = `#compdef devx
# devx zsh completion: devx completion zsh > "\${fpath[1]}/_devx"   (or: source <(devx completion zsh))
_devx() {
  local -a devx_lines devx_items
  local devx_directive devx_line
  devx_lines=("\${(@f)$("\${words[1]}" __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  devx_directive="\${devx_lines[-1]}"
  devx_lines=("\${(@)devx_lines[1,-2]}")
  if [[ "$devx_directive" == :files ]]; then
    _files
    return
  fi
  for devx_line in "\${devx_lines[@]}"; do
    [[ -z "$devx_line" ]] && continue
    if [[ "$devx_line" == *$'\\t'* ]]; then
      devx_items+=("\${\${devx_line%%$'\\t'*}//:/\\\\:}:\${devx_line#*$'\\t'}")
    else
      devx_items+=("\${devx_line//:/\\\\:}")
    fi
  done
  if (( \${#devx_items} )); then
    _describe -t devx devx devx_items
  elif [[ "$devx_directive" == :default ]]; then
    _files
  fi
}
if [[ "\${funcstack[1]}" == _devx ]]; then _devx "$@"; else compdef _devx devx; fi
`;

const FISH = `# devx fish completion: devx completion fish > ~/.config/fish/completions/devx.fish
function __devx_complete
    set -l tokens (commandline -opc)
    set -l out ($tokens[1] __complete $tokens[2..-1] (commandline -ct) 2>/dev/null)
    set -l directive $out[-1]
    set -e out[-1]
    if test "$directive" = ":files"; or begin; test (count $out) -eq 0; and test "$directive" = ":default"; end
        __fish_complete_path (commandline -ct)
        return
    end
    printf '%s\\n' $out
end
complete -c devx -f -a '(__devx_complete)'
`;

export default defineCommand({
  path: ["completion"],
  group: "Help & setup",
  dryRun: "read-only",
  summary: "print a shell completion script (bash, zsh or fish)",
  description: "Completes commands, flags, file names after -f, and database, snapshot and node names from local state.",
  examples: ["source <(devx completion bash)", 'devx completion zsh > "${fpath[1]}/_devx"', "devx completion fish > ~/.config/fish/completions/devx.fish"],
  options: v.object({ shell: arg("bash, zsh or fish", { placeholder: "shell", choices: SHELLS }) }),
  async run(opts, deps) {
    const { UsageError } = await import("../../errors.ts");
    const script = { bash: BASH, zsh: ZSH, fish: FISH }[opts.shell as (typeof SHELLS)[number]];
    if (!script) throw new UsageError(`unsupported shell "${opts.shell}"`, "use bash, zsh or fish");
    deps.io.out.write(script);
  },
});
