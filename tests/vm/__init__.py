"""The VM end-to-end installs: image build, QEMU runs, host-side checks."""
