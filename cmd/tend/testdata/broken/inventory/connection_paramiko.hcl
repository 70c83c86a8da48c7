# connection = "paramiko" (Ansible's); tend knows "ssh" and "local".
group "web" {
  connection = "paramiko"
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
