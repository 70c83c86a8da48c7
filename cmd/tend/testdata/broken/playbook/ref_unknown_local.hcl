# A reference to a local that is not declared (local.socket for local.sock).
locals {
  sock = "/run/staffrota.sock"
}

play "site" {
  hosts = ["web"]

  health_check "app" {
    unix_socket = local.socket
    path        = "/health/"
  }
}
