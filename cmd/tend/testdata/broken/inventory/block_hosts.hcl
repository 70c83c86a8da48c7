# A "hosts" block instead of "host".
group "web" {
  hosts "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
