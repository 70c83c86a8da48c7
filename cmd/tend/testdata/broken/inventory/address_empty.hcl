# An empty address.
group "web" {
  host "web1" {
    address = ""
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
