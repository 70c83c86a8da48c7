# "adress" instead of "address".
group "web" {
  host "web1" {
    adress = "127.0.0.1"
    port   = env("TEND_CORPUS_PORT", "22")
  }
}
