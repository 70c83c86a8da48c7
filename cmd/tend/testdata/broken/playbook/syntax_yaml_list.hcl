# An Ansible playbook pasted into an HCL file.
- hosts: web
  tasks:
    - copy:
        dest: /etc/motd
        content: "Managed by tend"
