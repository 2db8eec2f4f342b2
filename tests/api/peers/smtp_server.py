"""A real SMTP server for the e-mail tests: aiosmtpd (PyPI) with its stock Maildir handler,
requiring AUTH with the given user and password. Every accepted message lands in
<maildir>/new.

    python smtp_server.py PORT MAILDIR USER PASSWORD [MODE CA_PEM]

MODE is `plain` (the default: plain TCP on loopback, which a `?tls=none` destination uses),
`starttls` (STARTTLS offered and required before anything else, as a submission port on
587 does) or `smtps` (TLS from the first byte, as on 465). In the TLS modes the server's
certificate, for 127.0.0.1, is issued by a throwaway CA (trustme, PyPI) whose certificate
is written to CA_PEM for the client to trust; AUTH is refused before TLS.
"""
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


def server_tls(ca_pem):
    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(ca_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def main():
    port, maildir, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    mode = sys.argv[5] if len(sys.argv) > 5 else "plain"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        # handled=False: aiosmtpd itself answers 535 to a refused log-in.
        return AuthResult(success=ok, handled=False)

    kwargs = {}
    if mode == "starttls":
        kwargs = {"tls_context": server_tls(sys.argv[6]), "require_starttls": True}
    elif mode == "smtps":
        kwargs = {"ssl_context": server_tls(sys.argv[6])}
    elif mode != "plain":
        sys.exit(f"unknown mode {mode}")
    controller = Controller(
        Mailbox(maildir),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        # Log-in only once STARTTLS is done; aiosmtpd knows TLS only from its own STARTTLS, so
        # with smtps (TLS before the first byte, which it does not see) it must not ask.
        auth_require_tls=mode == "starttls",
        **kwargs,
    )
    controller.start()  # returns once the server answers
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
