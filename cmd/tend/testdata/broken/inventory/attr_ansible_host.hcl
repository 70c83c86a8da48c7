# Ansible's ansible_host and ansible_user in a tend inventory.
group "web" {
  host "web1" {
    ansible_host = "127.0.0.1"
    ansible_user = "deploy"
    port         = env("TEND_CORPUS_PORT", "22")
  }
}
