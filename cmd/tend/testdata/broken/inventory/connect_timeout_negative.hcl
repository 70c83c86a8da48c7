# A negative connect_timeout.
defaults {
  connect_timeout = -5
}

group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
