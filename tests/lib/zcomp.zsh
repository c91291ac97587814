# zcomp.zsh: what zsh offers for a command line typed into an interactive
# shell, with ragpipe's completion on $fpath.  Prints the screen text
# after TAB, once it matches the pattern WANT (or after 15 seconds).
# usage: zsh -f zcomp.zsh COMPLETIONS_DIR 'command line' WANT
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z "PS1='>'; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; zstyle ':completion:*' menu no; unsetopt beep; echo READY"
for i in {1..300}; do
	zpty -rt z line && [[ $line == *READY* ]] && break
	sleep 0.05
done
zpty -w -n z "$2"$'\t'
out=
for i in {1..300}; do
	while zpty -rt z line; do out+=$line; done
	[[ ${out//$'\e'\[[0-9;?]#[a-zA-Z]/} == *${~3}* ]] && break
	sleep 0.05
done
print -r -- "${out//$'\e'\[[0-9;?]#[a-zA-Z]/}"
zpty -d z
