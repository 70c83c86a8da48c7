# The port written into the address ("HOST:PORT"); it goes in port.
group "web" {
  host "web1" {
    address = "127.0.0.1:2222"
  }
}
