# health_check: expect_status = 999 is no HTTP status code.
play "site" {
  hosts = ["web"]

  health_check "app" {
    url           = "http://127.0.0.1:8000/health/"
    expect_status = 999
  }
}
