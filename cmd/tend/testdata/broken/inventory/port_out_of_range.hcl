# port = 70000 is above 65535.
group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = 70000
  }
}
