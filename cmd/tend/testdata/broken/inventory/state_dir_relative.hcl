# A relative state_dir.
defaults {
  state_dir = "var/lib/tend"
}

group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
