# A task switched off with when = false still has a misspelt attribute.
play "site" {
  hosts = ["web"]

  service "memcached" {
    state   = "started"
    enabeld = true
    when    = false
  }
}
