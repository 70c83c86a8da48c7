# members names a host that is not declared.
group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
  members = ["web2"]
}
