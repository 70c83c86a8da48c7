# The same host declared in two groups (use members for the second).
group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}

group "prod" {
  host "web1" {
    address = "127.0.0.1"
  }
}
