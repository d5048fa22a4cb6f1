"""`gateway init` and `gateway peers add|list` as an operator meets them: refusals that name
the option or field and write nothing, existing certificates, the peers table."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from gateway.cli.main import main
from gateway.config import format_instant, load_config
from gateway.config.public_file import certificate_pin, read_public_file

VN, KH = "vn-gialai-police", "kh-ratanakiri-police"


def _init(folder: Path, node: str, port: int, *extra: str) -> int:
    return main(
        [
            "init",
            "--node",
            node,
            "--dir",
            str(folder),
            "--listen",
            f"127.0.0.1:{port}",
            "--local",
            f"127.0.0.1:{port + 100}",
            *extra,
        ]
    )


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--node", "Bad Id"], "--node: expected a node id"),
        (["--node", VN, "--country", "vn"], "--country: expected an ISO 3166-1 alpha-2"),
        (["--node", VN, "--listen", "9101"], "--listen: expected HOST:PORT"),
        (["--node", VN, "--local", "127.0.0.1:99999"], "--local: expected HOST:PORT"),
        (["--node", VN, "--listen", "0.0.0.0:9101"], "--url: expected the URL peers reach"),
        (["--node", VN, "--url", "http://x.example/"], "--url: expected an https:// URL"),
        (["--node", VN, "--tls-cert", "cert.pem"], "--tls-cert and --tls-key: expected both"),
    ],
)
def test_init_refuses_bad_options_naming_them_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], expected: str
) -> None:
    folder = tmp_path / "node"
    assert main(["init", "--dir", str(folder), *arguments]) == 1
    assert expected in capsys.readouterr().err
    assert not folder.exists()


def test_init_refuses_a_certificate_that_is_not_pem_before_writing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    (tmp_path / "key.pem").write_text("not a key\n")
    tls = ["--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")]
    assert _init(tmp_path / "node", VN, 19101, *tls) == 1
    assert "--tls-cert: expected a PEM certificate" in capsys.readouterr().err
    assert not (tmp_path / "node").exists()


def test_init_again_is_refused_and_leaves_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _init(tmp_path / "node", VN, 19101) == 0
    config = tmp_path / "node" / "node.yaml"
    before = config.read_bytes()
    assert _init(tmp_path / "node", VN, 19101) == 1
    assert f"{config}: exists; init never overwrites" in capsys.readouterr().err
    assert config.read_bytes() == before


def test_init_with_a_ca_certificate_and_peers_add_with_its_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", KH)
    issued.cert_chain_pems[0].write_to_path(str(tmp_path / "kh.pem"))
    issued.private_key_pem.write_to_path(str(tmp_path / "kh.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    tls = ["--tls-cert", str(tmp_path / "kh.pem"), "--tls-key", str(tmp_path / "kh.key")]
    assert _init(tmp_path / "kh", KH, 19102, *tls) == 0
    public = read_public_file(tmp_path / "kh" / f"{KH}.public.yaml")
    assert not public.self_signed
    assert public.spki_sha256 == (certificate_pin((tmp_path / "kh.pem").read_bytes()),)

    assert _init(tmp_path / "vn", VN, 19101) == 0
    config_file = tmp_path / "vn" / "node.yaml"
    added = main(
        [
            "peers",
            "add",
            "--config",
            str(config_file),
            "--ca-file",
            str(tmp_path / "ca.pem"),
            "--send",
            "hotline_alert",
            str(tmp_path / "kh" / f"{KH}.public.yaml"),
        ]
    )
    assert added == 0, capsys.readouterr().err
    [peer] = load_config(config_file, environ={}).peers
    assert peer.tls.ca_file == (tmp_path / "ca.pem").resolve()
    assert {str(kind) for kind in peer.send} == {"hotline_alert"}
    # A CA-issued certificate is not a trust anchor to append to the client CA bundle.
    bundle = (tmp_path / "vn" / "tls" / "peer-certificates.pem").read_text()
    assert bundle.count("BEGIN CERTIFICATE") == 1


def test_peers_add_refusals_name_the_problem_and_leave_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _init(tmp_path / "vn", VN, 19101) == 0
    assert _init(tmp_path / "kh", KH, 19102) == 0
    config_file = tmp_path / "vn" / "node.yaml"
    public_file = tmp_path / "kh" / f"{KH}.public.yaml"
    before = config_file.read_bytes()
    capsys.readouterr()

    broken = tmp_path / "broken.public.yaml"
    broken.write_text(public_file.read_text().replace("url: https://", "url: gopher://"))
    assert main(["peers", "add", "--config", str(config_file), str(broken)]) == 1
    assert f"{broken}: url: expected an https:// URL" in capsys.readouterr().err

    refused = main(
        ["peers", "add", "--config", str(config_file), "--url", "ftp://x/", str(public_file)]
    )
    assert refused == 1
    err = capsys.readouterr().err
    assert "url" in err
    assert f"{config_file} left as it was" in err
    assert config_file.read_bytes() == before


def test_peers_list_shows_each_key_with_its_state_and_the_pin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _init(tmp_path / "vn", VN, 19101) == 0
    assert _init(tmp_path / "kh", KH, 19102) == 0
    config_file = tmp_path / "vn" / "node.yaml"
    public = read_public_file(tmp_path / "kh" / f"{KH}.public.yaml")
    assert (
        main(
            [
                "peers",
                "add",
                "--config",
                str(config_file),
                str(tmp_path / "kh" / f"{KH}.public.yaml"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["peers", "list", "--config", str(config_file)]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["PEER", "URL", "KEY"]
    assert row.split() == [
        KH,
        "https://127.0.0.1:19102/",
        public.keys[0].id,
        format_instant(public.keys[0].valid_from),
        format_instant(public.keys[0].valid_until),
        "valid",
        public.spki_sha256[0],
    ]
