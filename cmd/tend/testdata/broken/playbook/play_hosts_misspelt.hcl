# "host" instead of "hosts" in the play.
play "site" {
  host = ["web"]

  file "/etc/motd" {
    content = "Managed by tend\n"
  }
}
