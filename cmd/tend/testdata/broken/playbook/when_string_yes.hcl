# when = "yes", a string that is not a bool.
play "site" {
  hosts = ["web"]

  file "/etc/motd" {
    content = "Managed by tend\n"
    when    = "yes"
  }
}
