# identity_file names a key that does not exist on this machine.
defaults {
  identity_file = "/nonexistent/tend-corpus/id_ed25519"
}

group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
