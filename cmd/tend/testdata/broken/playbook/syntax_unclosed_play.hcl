# The play's closing brace is missing: the file ends inside the block.
play "site" {
  hosts = ["web"]

  file "/etc/motd" {
    content = "Managed by tend\n"
  }
