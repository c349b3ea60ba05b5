# livemod-completion.bash - bash completion for the livemod command.
# Installed as share/bash-completion/completions/livemod (bash-completion
# loads it on first use), or sourced by hand. Needs nothing from the
# bash-completion package.
#
# Commands and each command's options come from `livemod --help` (read
# once per shell), so they cannot drift from the command itself. Operands:
#   plan, update, update_info   modified modules (`livemod update_list`,
#                               a libdir scan the stat cache keeps cheap);
#                               update also `all`
#   show, apply                 recorded plan ids (state/plans/) and files
#   --to                        release ids: the store's release-N tags
#                               (docs/planner.md), read with git when it is
#                               installed; nothing else runs the ledger
#   stage                       fetched release trees (the store's
#                               refs/livemod/releases/*, read with git)
#   fetch, push                 the fleet repository: directories
#   --purge                     soft_purge, brutal_purge
#   --state, --libdir           directories

# _livemod_help CMD: fills _livemod_cmds ("name" a line) and
# _livemod_opts ("name --opt --opt ..." a line) from CMD --help.
_livemod_help() {
	[[ -n ${_livemod_cmds-} ]] && return
	local line syn
	while IFS= read -r line; do
		[[ $line =~ ^\ \ ([a-z_]+)(.*)$ ]] || continue
		syn=${BASH_REMATCH[2]%%   *} # the synopsis ends at 3 spaces
		_livemod_cmds+="${BASH_REMATCH[1]}"$'\n'
		_livemod_opts+="${BASH_REMATCH[1]} $(grep -o -- '--[a-z-]*' <<<"$syn" | tr '\n' ' ')"$'\n'
	done < <("$1" --help 2>/dev/null)
}

# _livemod_state: the state dir the command line names, else LIVEMOD_STATE.
_livemod_state() {
	local i state=${LIVEMOD_STATE-}
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--state) state=${COMP_WORDS[i + 1]} ;;
		--state=*) state=${COMP_WORDS[i]#--state=} ;;
		esac
	done
	printf '%s' "$state"
}

_livemod() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local lm=${COMP_WORDS[0]} cmd="" opts state i
	COMPREPLY=()
	_livemod_help "$lm"

	# The command is the first word that is neither an option nor the
	# value of one (every option that takes a value is spelt apart).
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--state | --libdir | --app | --purge | --extra | --to | --keep) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done

	case $prev in
	--state | --libdir)
		COMPREPLY=($(compgen -d -- "$cur"))
		return ;;
	--purge)
		COMPREPLY=($(compgen -W "soft_purge brutal_purge" -- "$cur"))
		return ;;
	--to)
		state=$(_livemod_state)
		[[ -n $state ]] && command -v git >/dev/null &&
			COMPREPLY=($(compgen -W "$(git --git-dir="$state/store.git" \
				tag -l 'release-*' 2>/dev/null | sed 's/^release-//')" -- "$cur"))
		return ;;
	--app | --extra | --keep)
		return ;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--state --json --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$_livemod_cmds" -- "$cur"))
		fi
		return
	fi
	if [[ $cur == -* ]]; then
		opts=$(sed -n "s/^$cmd //p" <<<"$_livemod_opts")
		COMPREPLY=($(compgen -W "$opts --state --json --help" -- "$cur"))
		return
	fi

	state=$(_livemod_state)
	case $cmd in
	plan | update | update_info)
		opts=$("$lm" ${state:+--state "$state"} update_list 2>/dev/null)
		[[ $cmd == update ]] && opts+=" all"
		COMPREPLY=($(compgen -W "$opts" -- "$cur")) ;;
	stage)
		[[ -n $state ]] && command -v git >/dev/null &&
			COMPREPLY=($(compgen -W "$(git --git-dir="$state/store.git" \
				for-each-ref --format='%(refname:lstrip=3)' \
				refs/livemod/releases/ 2>/dev/null)" -- "$cur")) ;;
	fetch | push)
		COMPREPLY=($(compgen -d -- "$cur")) ;;
	show | apply)
		[[ -n $state ]] && opts=$(cd "$state/plans" 2>/dev/null && ls -- *.json 2>/dev/null | sed 's/\.json$//')
		COMPREPLY=($(compgen -W "${opts-}" -- "$cur") $(compgen -f -- "$cur")) ;;
	esac
}

complete -F _livemod livemod
