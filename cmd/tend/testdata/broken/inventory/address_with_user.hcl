# The login written into the address ("user@host"); it goes in user.
group "web" {
  host "web1" {
    address = "deploy@127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
