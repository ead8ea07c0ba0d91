"""Writes one message per charset with Python's own email package and codecs, and the oracle;
and a few mislabelled messages, written byte by byte with Python's codecs.

Usage: python3 charsets.py OUT_DIR. Writes OUT_DIR/<name>.eml and OUT_DIR/manifest.json:
{name: {"label", "subject", "from_name", "filename", "subject_word", "body_word",
"flag"}}. `subject`, `from_name` and `filename` are what Python's email package
(policy=default) reads back from the bytes written; where Python cannot read a label that mail
clients write (Outlook's Windows-31J in `shift_jis` and `iso-2022-jp`), what Python's own codec
for the bytes (cp932, iso2022_jp_2004) gives, as the comment at that case says.
"""

import base64
import email
import email.policy
import json
import os
import sys
from email.generator import BytesGenerator
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formataddr

out = sys.argv[1]
os.makedirs(out, exist_ok=True)

JA = ("パッケージに含まれる新しい機能について",
      "来週の会議では、新しいソフトウェアのパッケージについて説明します。出席をお願いします。",
      "機能", "会議", "山田太郎", "資料.txt")
ZH = ("关于下周项目会议的安排",
      "各位同事，下周三我们将讨论新的预算方案，请提前准备材料。谢谢大家的配合。",
      "会议", "预算", "王小明", "预算.txt")
TW = ("關於下週專案會議的安排",
      "各位同事，下週三我們將討論新的預算方案，請提前準備資料。謝謝大家的配合。",
      "會議", "預算", "陳大文", "預算.txt")
KO = ("다음 주 프로젝트 회의 일정",
      "안녕하세요, 다음 주 수요일에 새로운 예산안을 논의할 예정입니다. 자료를 미리 준비해 주세요.",
      "회의", "예산안", "김철수", "예산.txt")
TH = ("การประชุม โครงการ สัปดาห์หน้า",
      "สวัสดีครับ เราจะหารือเกี่ยวกับ งบประมาณ ใหม่ในวันพุธ",
      "โครงการ", "งบประมาณ", "สมชาย", "งบ.txt")
RU = ("Совещание по бюджету на следующей неделе",
      "Коллеги, в среду обсудим новый бюджет проекта. Подготовьте, пожалуйста, материалы.",
      "Совещание", "обсудим", "Иван Петров", "бюджет.txt")
UK = ("Нарада щодо бюджету на наступному тижні",
      "Колеги, у середу обговоримо новий бюджет. Підготуйте, будь ласка, матеріали.",
      "Нарада", "обговоримо", "Олена Шевченко", "бюджет.txt")
EL = ("Σύσκεψη για τον προϋπολογισμό",
      "Συνάδελφοι, την Τετάρτη θα συζητήσουμε τον νέο προϋπολογισμό του έργου.",
      "Σύσκεψη", "συζητήσουμε", "Γιώργος Παπαδόπουλος", "έγγραφο.txt")
HE = ("ישיבת תקציב בשבוע הבא",
      "שלום לכולם, ביום רביעי נדון בתקציב החדש של הפרויקט.",
      "תקציב", "רביעי", "דוד כהן", "תקציב.txt")
AR = ("اجتماع الميزانية الأسبوع المقبل",
      "مرحبا بالجميع، سنناقش الميزانية الجديدة يوم الأربعاء.",
      "اجتماع", "سنناقش", "أحمد علي", "ميزانية.txt")
TR = ("Gelecek hafta bütçe toplantısı",
      "Merhaba, çarşamba günü yeni bütçeyi görüşeceğiz. Lütfen hazırlıklı gelin.",
      "toplantısı", "görüşeceğiz", "Ayşe Yılmaz", "bütçe.txt")
CS = ("Schůzka o rozpočtu příští týden",
      "Dobrý den, ve středu probereme nový rozpočet projektu. Připravte si podklady.",
      "rozpočtu", "probereme", "Jiří Dvořák", "rozpočet.txt")
PL = ("Spotkanie w sprawie budżetu",
      "Dzień dobry, w środę omówimy nowy budżet. Proszę przygotować materiały.",
      "budżetu", "omówimy", "Łukasz Wójcik", "budżet.txt")
LT = ("Biudžeto susitikimas kitą savaitę",
      "Labas, trečiadienį aptarsime naują biudžetą. Paruoškite medžiagą.",
      "susitikimas", "trečiadienį", "Žygimantas Šimkus", "biudžetas.txt")
DE = ("Grüße zur Besprechung über das Budget",
      "Hallo, am Mittwoch besprechen wir das neue Budget. Schöne Grüße aus Köln.",
      "Besprechung", "Mittwoch", "Jürgen Müller", "Übersicht.txt")
EUR = ("Rechnung über 500 € für die Besprechung",
       "Hallo, anbei die Rechnung über 1.200 € für den Workshop im März.",
       "Besprechung", "Workshop", "Jürgen Müller", "Rechnung €.txt")
RO = ("Ședință despre buget săptămâna viitoare",
      "Bună ziua, miercuri vom discuta noul buget al proiectului.",
      "Ședință", "miercuri", "Ștefan Țurcanu", "buget.txt")
EO = ("Ĉu vi venos ĵaŭdon al la kunveno",
      "Saluton, ĵaŭdon ni diskutos la novan buĝeton de la projekto.",
      "kunveno", "diskutos", "Ĝorĝo Ŝaŭmo", "buĝeto.txt")
NO = ("Møte om budsjettet neste uke",
      "Hei, på onsdag diskuterer vi det nye budsjettet for prosjektet.",
      "budsjettet", "onsdag", "Bjørn Ødegård", "budsjett.txt")
VI = ("Xin chào các anh",
      "Xin chào, đây là thư. Tám và Văn.",
      "chào", "đây", "Lê Văn Tám", "tài.txt")
MIX = ("会議 회의 中文 café",
       "会議の資料です。회의 자료입니다。",
       "会議", "資料", "山田 김", "資料.txt")
NEC = ("①会議の件 ㈱山田商事",
       "②来週の会議では、新しい①番の資料について説明します。",
       "会議", "資料", "山田㈱", "資料①.txt")
UHC = ("똠방각하 회의 일정",
       "안녕하세요, 똠방각하 회의는 수요일입니다. 새로운 예산안을 논의합니다.",
       "회의", "예산안", "김똠", "똠.txt")
HK = ("我哋嘅會議安排",
      "各位同事，我哋下星期三會討論新嘅預算方案。",
      "會議", "預算", "陳大文", "會議.txt")
GB4 = ("关于会议的安排 ㈠",
       "各位同事，下周三我们将讨论新的预算方案。𠀀𠀁",
       "会议", "预算", "王小明", "预算.txt")

# name: (label written into the message, text, Python codec for the bytes, body encoding)
CASES = {
    "utf_8": ("utf-8", DE, "utf-8", "qp"),
    "iso_2022_jp": ("iso-2022-jp", JA, "iso2022_jp", "7bit"),
    "iso_2022_jp_2": ("iso-2022-jp-2", MIX, "iso2022_jp_2", "7bit"),
    "shift_jis": ("shift_jis", JA, "shift_jis", "base64"),
    "shift_jis_8bit": ("shift_jis", JA, "shift_jis", "8bit"),
    "cp932": ("cp932", NEC, "cp932", "base64"),
    "euc_jp": ("euc-jp", JA, "euc_jp", "base64"),
    "gb2312": ("gb2312", ZH, "gb2312", "base64"),
    "gbk": ("gbk", ZH, "gbk", "qp"),
    "gb18030": ("gb18030", GB4, "gb18030", "base64"),
    "big5": ("big5", TW, "big5", "base64"),
    "big5_hkscs": ("big5-hkscs", HK, "big5hkscs", "base64"),
    "euc_kr": ("euc-kr", KO, "euc_kr", "base64"),
    "ks_c_5601_1987": ("ks_c_5601-1987", UHC, "cp949", "base64"),
    "iso_2022_kr": ("iso-2022-kr", KO, "iso2022_kr", "7bit"),
    "hz_gb_2312": ("hz-gb-2312", ZH, "hz", "7bit"),
    "tis_620": ("tis-620", TH, "tis_620", "base64"),
    "windows_874": ("windows-874", TH, "cp874", "qp"),
    "koi8_r": ("koi8-r", RU, "koi8_r", "8bit"),
    "koi8_u": ("koi8-u", UK, "koi8_u", "base64"),
    "ibm866": ("ibm866", RU, "cp866", "base64"),
    "iso_8859_5": ("iso-8859-5", RU, "iso8859_5", "qp"),
    "windows_1251": ("windows-1251", RU, "cp1251", "base64"),
    "iso_8859_1": ("iso-8859-1", DE, "latin_1", "qp"),
    "iso_8859_15": ("iso-8859-15", EUR, "iso8859_15", "qp"),
    "windows_1252": ("windows-1252", EUR, "cp1252", "8bit"),
    "iso_8859_2": ("iso-8859-2", CS, "iso8859_2", "qp"),
    "windows_1250": ("windows-1250", PL, "cp1250", "base64"),
    "iso_8859_3": ("iso-8859-3", EO, "iso8859_3", "qp"),
    "iso_8859_4": ("iso-8859-4", LT, "iso8859_4", "qp"),
    "iso_8859_13": ("iso-8859-13", LT, "iso8859_13", "base64"),
    "windows_1257": ("windows-1257", LT, "cp1257", "qp"),
    "iso_8859_7": ("iso-8859-7", EL, "iso8859_7", "base64"),
    "windows_1253": ("windows-1253", EL, "cp1253", "qp"),
    "iso_8859_8": ("iso-8859-8", HE, "iso8859_8", "base64"),
    "windows_1255": ("windows-1255", HE, "cp1255", "base64"),
    "iso_8859_6": ("iso-8859-6", AR, "iso8859_6", "base64"),
    "windows_1256": ("windows-1256", AR, "cp1256", "qp"),
    "iso_8859_9": ("iso-8859-9", TR, "iso8859_9", "qp"),
    "windows_1254": ("windows-1254", TR, "cp1254", "base64"),
    "iso_8859_10": ("iso-8859-10", NO, "iso8859_10", "qp"),
    "iso_8859_14": ("iso-8859-14", NO, "iso8859_14", "qp"),
    "iso_8859_16": ("iso-8859-16", RO, "iso8859_16", "base64"),
    "windows_1258": ("windows-1258", VI, "cp1258", "qp"),
    "utf_7": ("utf-7", DE, "utf_7", "7bit"),
    "shift_jis_windows_31j": ("shift_jis", NEC, "cp932", "base64"),
    "iso_2022_jp_cp50220": ("iso-2022-jp", NEC, "cp50220", "7bit"),
}

# Where Python's email package cannot read what mail clients write, the oracle is Python's
# codec for the bytes: Outlook writes Windows-31J (NEC and IBM rows) under `shift_jis` and
# `iso-2022-jp`, which Python's codecs for those labels refuse; Python has no codec for the
# label `windows-874`; and it reads RFC 2231 values labelled `ks_c_5601-1987` as strict
# EUC-KR, which refuses the extended syllables of the code page Outlook means (cp949).
CODEC_ORACLE = {"shift_jis_windows_31j", "iso_2022_jp_cp50220", "windows_874",
                "ks_c_5601_1987"}


def cp50220(text):
    """ISO-2022-JP as Outlook writes it: JIS X 0208 with the NEC row under ESC $ B."""
    b = text.encode("iso2022_jp_2004")
    return b.replace(b"\x1b$(Q", b"\x1b$B")


def encode(text, codec):
    if codec == "cp50220":
        return cp50220(text)
    return text.encode(codec)


def oracle(text, codec):
    """Python's codec reading the bytes it writes for `text` (for CP50220: the same
    characters as iso2022_jp_2004 writes them, under its own escape)."""
    codec = "iso2022_jp_2004" if codec == "cp50220" else codec
    return text.encode(codec).decode(codec)


def word(label, codec, text):
    """An RFC 2047 encoded word (or several: Python's Header splits long text)."""
    if codec == "cp50220":
        return "=?%s?B?%s?=" % (label, base64.b64encode(cp50220(text)).decode())
    try:
        return Header(text, label).encode()
    except (LookupError, UnicodeError):
        return "=?%s?B?%s?=" % (label, base64.b64encode(text.encode(codec)).decode())


def rfc2231(label, codec, text):
    raw = encode(text, codec)
    return "%s''%s" % (label, "".join("%%%02X" % b for b in raw))


manifest = {}
for name, (label, (subject, body, sword, bword, who, fname), codec, cte) in CASES.items():
    msg = MIMEMultipart()
    msg["From"] = "%s <sender@example.com>" % word(label, codec, who)
    msg["To"] = "alice@example.com"
    msg["Subject"] = word(label, codec, subject)
    msg["Date"] = "Tue, 1 Dec 2026 10:00:00 +0100"
    msg["Message-ID"] = "<%s@charsets.example>" % name
    text = MIMENonMultipart("text", "plain", charset=label)
    raw = encode(body + "\n", codec)
    if cte == "base64":
        text.set_payload(base64.encodebytes(raw).decode("ascii"))
    elif cte == "qp":
        import quopri
        text.set_payload(quopri.encodestring(raw).decode("ascii"))
        cte = "quoted-printable"
    else:
        text.set_payload(raw.decode("ascii", "surrogateescape"))
    text["Content-Transfer-Encoding"] = cte
    msg.attach(text)
    att = MIMEApplication(b"attachment bytes\n", "octet-stream")
    att.add_header("Content-Disposition", "attachment")
    att.set_param("filename*", rfc2231(label, codec, fname), header="Content-Disposition",
                  requote=False)
    msg.attach(att)
    path = os.path.join(out, name + ".eml")
    with open(path, "wb") as f:
        BytesGenerator(f, policy=email.policy.compat32.clone(linesep="\r\n")).flatten(msg)

    if name in CODEC_ORACLE:
        got_subject = oracle(subject, codec)
        got_from = oracle(who, codec)
        got_file = oracle(fname, codec)
    else:
        # The oracle: Python's own reading of what it wrote.
        with open(path, "rb") as f:
            back = email.message_from_bytes(f.read(), policy=email.policy.default)
        got_subject = str(back["subject"])
        got_from = back["from"].addresses[0].display_name
        got_file = [p.get_filename() for p in back.iter_attachments()][0]
        for got, want in ((got_subject, subject), (got_from, who), (got_file, fname)):
            if got.strip() != want:
                sys.exit("%s: Python read %r, not %r: the oracle cannot judge" % (name, got, want))
    manifest[name] = {
        "label": label,
        "subject": got_subject,
        "from_name": got_from,
        "filename": got_file,
        "subject_word": sword,
        "body_word": bword,
    }

# Mislabelled mail, written byte by byte (a mail program would not write it so; broken ones
# do): the label (None: no charset parameter), how the subject is written ("word": an
# encoded word under the same label, "raw": the bytes as they are), the text, its real codec.
MISLABELLED = {
    "mislabelled_utf_8_is_shift_jis": ("utf-8", "word", JA, "shift_jis"),
    "unknown_label_is_gbk": ("x-chinese-unknown", "word", ZH, "gbk"),
    "unlabelled_8bit_koi8_r": (None, "raw", RU, "koi8_r"),
    "unlabelled_8bit_euc_kr": (None, "raw", KO, "euc_kr"),
    "us_ascii_label_is_utf_8": ("us-ascii", "raw", DE, "utf-8"),
    "latin_1_label_is_utf_8": ("iso-8859-1", "word", DE, "utf-8"),
}
for name, (label, how, (subject, body, sword, bword, who, fname), codec) in MISLABELLED.items():
    sb = subject.encode(codec)
    if how == "word":
        subj = b"=?" + label.encode() + b"?B?" + base64.b64encode(sb) + b"?="
    else:
        subj = sb
    ctype = b"text/plain" + (b"; charset=" + label.encode() if label else b"")
    raw = (b"From: sender@example.com\r\nTo: alice@example.com\r\nSubject: " + subj
           + b"\r\nDate: Tue, 1 Dec 2026 10:00:00 +0100\r\nMessage-ID: <" + name.encode()
           + b"@charsets.example>\r\nMIME-Version: 1.0\r\nContent-Type: " + ctype
           + b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           + (body + "\r\n" + body + "\r\n").encode(codec))
    with open(os.path.join(out, name + ".eml"), "wb") as f:
        f.write(raw)
    manifest[name] = {
        "label": label,
        "subject": sb.decode(codec),
        "from_name": None,
        "filename": None,
        "subject_word": sword,
        "body_word": bword,
    }

with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
    json.dump(manifest, f, ensure_ascii=False, indent=1)
