# directory: mode = 0755 unquoted: HCL reads the number 755, not octal.
play "site" {
  hosts = ["web"]

  directory "/srv/app" {
    owner = "app"
    mode  = 0755
  }
}
