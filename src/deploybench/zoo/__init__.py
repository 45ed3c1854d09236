"""The model zoo: the reference models of Table 6 built offline from well-kept packages (or trained here),
exported by the real exporters into a content-addressed cache. Building runs in the `pytorch` toolchain's
environment, in a child process: nothing here imports a framework."""
