# Two values for one argument: a stray string after the first.
play "site" {
  hosts = ["web"]

  file "/etc/motd" {
    content = "Managed by tend" "\n"
  }
}
