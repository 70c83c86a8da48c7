# A string is not terminated: the closing quote is missing.
play "site" {
  hosts = ["web"]

  file "/etc/motd" {
    content = "Managed by tend
    mode    = "0644"
  }
}
