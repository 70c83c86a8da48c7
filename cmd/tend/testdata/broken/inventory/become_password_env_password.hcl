# The sudo password itself written in become_password_env, which takes the NAME of a variable.
defaults {
  become              = true
  become_password_env = "s3cr3t!pass"
}

group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
