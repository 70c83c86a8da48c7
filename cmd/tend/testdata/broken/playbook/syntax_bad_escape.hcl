# A backslash in a string that is not a valid escape sequence.
play "site" {
  hosts = ["web"]

  command "grep-errors" {
    run = "grep -E 'error\d+' /var/log/app.log > /tmp/errors || true"
  }
}
