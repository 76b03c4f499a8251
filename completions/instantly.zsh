#compdef instantly

_instantly_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _INSTANTLY_COMPLETE=complete_zsh instantly)
}

compdef _instantly_completion instantly
