# children names a group that is not declared ("webservers" for "web").
group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}

group "prod" {
  children = ["webservers"]
}
