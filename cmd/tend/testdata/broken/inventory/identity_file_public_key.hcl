# identity_file names the public half of the key (.pub), not the private key.
# (The path is relative to the directory tend runs in: cmd/tend for the test.)
defaults {
  identity_file = "testdata/broken/inventory/keys/deploy_ed25519.pub"
}

group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
