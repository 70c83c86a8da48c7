# keepalive_count = 0 (meant "off"; keepalive_interval = 0 turns keepalives off).
defaults {
  keepalive_count = 0
}

group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
