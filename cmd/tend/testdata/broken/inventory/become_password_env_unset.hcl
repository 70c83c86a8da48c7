# become_password_env names a variable that is not set when tend runs.
defaults {
  become              = true
  become_password_env = "TEND_CORPUS_UNSET_SUDO_PASSWORD"
}

group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
