"""A tiny case runner for the interop scripts: every case runs, every failure is
reported, and the last line is "N passed, N failed"."""


class Cases:
    def __init__(self):
        self.results = []

    def case(self, name=None):
        """Decorator: runs the function now and records its outcome."""
        def wrap(body):
            try:
                body()
                self.results.append((name or body.__name__, None))
            except Exception as error:  # every failure is reported, none stops the run
                self.results.append((name or body.__name__, f"{type(error).__name__}: {error}"))
            return body
        return wrap

    def report(self):
        """Prints one line per case and the summary; returns the exit status."""
        failed = 0
        for name, problem in self.results:
            if problem is None:
                print(f"ok {name}")
            else:
                failed += 1
                print(f"FAIL {name}: {problem}")
        print(f"{len(self.results) - failed} passed, {failed} failed")
        return 1 if failed else 0


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def expect_code(call, code):
    """Runs a grpcio call that must fail with `code`; returns the error."""
    import grpc

    try:
        call()
    except grpc.RpcError as error:
        expect(error.code() == code, f"expected {code}, got {error.code()}: {error.details()}")
        return error
    raise AssertionError(f"expected {code}, the call succeeded")
