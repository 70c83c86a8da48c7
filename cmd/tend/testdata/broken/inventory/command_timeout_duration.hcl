# command_timeout = "10m": it is a number of seconds, not a duration string.
defaults {
  command_timeout = "10m"
}

group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
