# health_check: neither url nor unix_socket.
play "site" {
  hosts = ["web"]

  health_check "app" {
    path          = "/health/"
    expect_status = 200
  }
}
