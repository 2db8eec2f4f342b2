"""A real SMTP server for the e-mail tests: aiosmtpd (PyPI) with its stock Maildir handler,
requiring AUTH with the given user and password (over plain TCP on loopback, which the
test's `?tls=none` destination uses). Every accepted message lands in <maildir>/new.

    python smtp_server.py PORT MAILDIR USER PASSWORD
"""
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    port, maildir, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        # handled=False: aiosmtpd itself answers 535 to a refused log-in.
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        Mailbox(maildir),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()  # returns once the server answers
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
