# bash completion for ragpipe: rag and the rag-* programs.
# Installed as .../bash-completion/completions/rag, with a link named
# after each rag-* program so that bash-completion finds it on demand.

# The options of program $1 ("rag-add" for "rag add" and so on), one line.
_ragpipe_options()
{
	case $1 in
	rag)
		echo "--help --version" ;;
	rag-add)
		echo "--batch --chunk-size --convert --db --dimensions" \
		    "--doc-prefix --files-from --force --format --help --jobs" \
		    "--json --max-size --model --name --no-progress --null" \
		    "--overlap --progress --provider --prune --quant" \
		    "--query-prefix --quiet --strict --verbose --wait" ;;
	rag-answer)
		echo "--help --json --max-chars --max-context --model --provider" \
		    "--question --quiet --sentences --system --temperature" \
		    "--version" ;;
	rag-ask)
		echo "--db --exact --filter --help --json --max-chars --max-context" \
		    "--mode --model --provider --quiet --sentences --system" \
		    "--temperature --top" ;;
	rag-config)
		echo "--help --json" ;;
	rag-embed)
		echo "--b64 --batch --db --dimensions --doc-prefix --help --jobs" \
		    "--model --no-progress --progress --provider --query-prefix" \
		    "--quiet --strict --verbose --version" ;;
	rag-eval)
		echo "--db --help --json --mode --per-query --qrels --queries" \
		    "--quiet --run --top --version" ;;
	rag-index)
		echo "--db --help --json --no-progress --progress --quant" \
		    "--quiet --strict --verbose --version --wait" ;;
	rag-ingest)
		echo "--chunk-size --convert --db --files-from --force --format" \
		    "--help --json --max-size --name --no-progress --null" \
		    "--overlap --progress --prune --quiet --verbose --version" ;;
	rag-query)
		echo "--db --exact --explain --filter --format --help --mode" \
		    "--quiet --top --version" ;;
	rag-status)
		echo "--check --db --help --json" ;;
	esac
}

_ragpipe_commands="add answer ask config embed eval index ingest query status"

_ragpipe_complete()
{
	local cur prev prog i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	prog=${COMP_WORDS[0]##*/}
	COMPREPLY=()

	# "rag X ..." completes as rag-X, once X is there.
	if [ "$prog" = rag ]; then
		for ((i = 1; i < COMP_CWORD; i++)); do
			case ${COMP_WORDS[i]} in
			-*) ;;
			*) prog=rag-${COMP_WORDS[i]}; break ;;
			esac
		done
		if [ "$prog" = rag ] && [[ $cur != -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$_ragpipe_commands" -- "$cur")
			return
		fi
	fi

	case $prev in
	-d|--db|--files-from|--qrels|--queries|--run|--per-query)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	--mode)
		mapfile -t COMPREPLY < <(compgen -W "bm25 vector hybrid" -- "$cur")
		return ;;
	--quant)
		mapfile -t COMPREPLY < <(compgen -W "auto none int8" -- "$cur")
		return ;;
	--format)
		case $prog in
		rag-status|rag-query)
			mapfile -t COMPREPLY < <(compgen -W "text json" -- "$cur") ;;
		*)
			mapfile -t COMPREPLY < <(compgen -W "auto text markdown html code" -- "$cur") ;;
		esac
		return ;;
	--provider)
		case $prog in
		rag-answer|rag-ask)
			mapfile -t COMPREPLY < <(compgen -W "extractive openai ollama" -- "$cur") ;;
		*)
			mapfile -t COMPREPLY < <(compgen -W "local openai ollama" -- "$cur") ;;
		esac
		return ;;
	-k|--top|--chunk-size|--overlap|--max-size|--name|--filter|--batch|\
	--dimensions|--jobs|--model|--max-chars|--question|--sentences|\
	--convert|--doc-prefix|--query-prefix|--max-context|--system|\
	--temperature)
		return ;;
	esac

	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_ragpipe_options "$prog")" -- "$cur")
		return
	fi
	case $prog in
	rag-add|rag-answer|rag-embed|rag-index|rag-ingest)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
	esac
}

complete -o filenames -o bashdefault -F _ragpipe_complete rag rag-answer \
    rag-embed rag-eval rag-index rag-ingest rag-query
