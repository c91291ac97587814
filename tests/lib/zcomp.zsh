# zcomp.zsh: what zsh offers for a command line typed into an interactive
# shell, with ragpipe's completion on $fpath.  Prints the screen text
# after TAB.  usage: zsh -f zcomp.zsh COMPLETIONS_DIR 'command line'
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z "PS1='>'; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; zstyle ':completion:*' menu no; unsetopt beep; echo READY"
for i in {1..100}; do
	zpty -rt z line && [[ $line == *READY* ]] && break
	sleep 0.05
done
zpty -w -n z "$2"$'\t'
out=
for i in {1..40}; do
	sleep 0.05
	while zpty -rt z line; do out+=$line; done
done
print -r -- "${out//$'\e'\[[0-9;?]#[a-zA-Z]/}"
zpty -d z
