# A typo in the module kind: "fiel" for "file".
play "site" {
  hosts = ["web"]

  fiel "/etc/motd" {
    content = "Managed by tend\n"
  }
}
