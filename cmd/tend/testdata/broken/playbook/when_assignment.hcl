# when uses "=" instead of "==".
play "site" {
  hosts = ["web"]

  file "/etc/motd" {
    content = "Managed by tend\n"
    when    = host.name = "web1"
  }
}
