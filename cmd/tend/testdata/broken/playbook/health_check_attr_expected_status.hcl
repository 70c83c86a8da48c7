# health_check: "expected_status" instead of "expect_status".
play "site" {
  hosts = ["web"]

  health_check "app" {
    url             = "http://127.0.0.1:8000/health/"
    expected_status = 200
  }
}
