# Two file tasks with the same label.
play "site" {
  hosts = ["web"]

  file "/etc/motd" {
    content = "Managed by tend\n"
  }
  file "/etc/motd" {
    content = "Authorised use only\n"
  }
}
