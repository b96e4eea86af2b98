"""Announcement Chinese → tone-numbered pinyin for espeak-ng's ``cmn-latn-pinyin`` voice.

Announcements use a small fixed vocabulary (请…号到…窗口/诊室 就诊, digits, service and room
words), so a word table chosen by hand reads them right, polyphones included (血 xue4 in 抽血,
号 hao4, 长 chang2 in 院长 is not needed). Longest match wins. Arabic numbers inside names
(``12号窗口``) are read as quantities (十二); the ticket number arrives already spelled digit
by digit (``A零二三``). Latin letters are passed through: the voice names them (A → "ei").
Any other Chinese character (a doctor's name) is passed through as it is: the same voice reads
characters with espeak-ng's own Mandarin dictionary, which is right for common names but may
pick the wrong reading of a rare polyphonic surname (see docs/displays.md).
"""

from __future__ import annotations

import re

DIGITS = ["ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3"]

WORDS: dict[str, str] = {
    # numbers
    "零": "ling2",
    "一": "yi1",
    "二": "er4",
    "两": "liang3",
    "三": "san1",
    "四": "si4",
    "五": "wu3",
    "六": "liu4",
    "七": "qi1",
    "八": "ba1",
    "九": "jiu3",
    "十": "shi2",
    "百": "bai3",
    "千": "qian1",
    # the calling sentence
    "请": "qing3",
    "号": "hao4",
    "到": "dao4",
    "患者": "huan4 zhe3",
    "病人": "bing4 ren2",
    "就诊": "jiu4 zhen3",
    "办理": "ban4 li3",
    "取药": "qu3 yao4",
    "抽血": "chou1 xue4",
    "采血": "cai3 xue4",
    "检查": "jian3 cha2",
    "检验": "jian4 yan4",
    "前往": "qian2 wang3",
    "准备": "zhun3 bei4",
    "等候": "deng3 hou4",
    "候诊": "hou4 zhen3",
    "呼叫": "hu1 jiao4",
    "再次": "zai4 ci4",
    "过号": "guo4 hao4",
    "您好": "nin2 hao3",
    "谢谢": "xie4 xie4",
    "配合": "pei4 he2",
    "在": "zai4",
    "的": "de5",
    "位": "wei4",
    "和": "he2",
    # places
    "窗口": "chuang1 kou3",
    "窗": "chuang1",
    "诊室": "zhen3 shi4",
    "诊区": "zhen3 qu1",
    "室": "shi4",
    "台": "tai2",
    "处": "chu4",
    "区": "qu1",
    "楼": "lou2",
    "层": "ceng2",
    "大厅": "da4 ting1",
    "门诊": "men2 zhen3",
    "急诊": "ji2 zhen3",
    "药房": "yao4 fang2",
    "挂号": "gua4 hao4",
    "收费": "shou1 fei4",
    "东": "dong1",
    "西": "xi1",
    "南": "nan2",
    "北": "bei3",
    "侧": "ce4",
    "超声": "chao1 sheng1",
    "超": "chao1",
    "放射": "fang4 she4",
    "心电图": "xin1 dian4 tu2",
    "注射": "zhu4 she4",
    "输液": "shu1 ye4",
    "报告": "bao4 gao4",
    "领取": "ling3 qu3",
    # departments
    "内科": "nei4 ke1",
    "外科": "wai4 ke1",
    "儿科": "er2 ke1",
    "妇科": "fu4 ke1",
    "产科": "chan3 ke1",
    "眼科": "yan3 ke1",
    "口腔": "kou3 qiang1",
    "皮肤": "pi2 fu1",
    "中医": "zhong1 yi1",
    "科": "ke1",
    "诊": "zhen3",
    "初诊": "chu1 zhen3",
    "复诊": "fu4 zhen3",
    # doctors
    "专家": "zhuan1 jia1",
    "主任医师": "zhu3 ren4 yi1 shi1",
    "副主任医师": "fu4 zhu3 ren4 yi1 shi1",
    "主治医师": "zhu3 zhi4 yi1 shi1",
    "医师": "yi1 shi1",
    "医生": "yi1 sheng1",
    "教授": "jiao4 shou4",
    "主任": "zhu3 ren4",
}
_LONGEST = max(len(w) for w in WORDS)
#: Punctuation, ASCII and full-width (written as escapes), becomes a pause.
_PAUSE = re.compile("[,.;:!?\\s\u3001\u3002\uff0c\uff1a\uff1b\uff01\uff1f]+")


def _is_hanzi(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def number_words(n: int) -> str:
    """A whole number 0-9999 as Mandarin (12 → 十二, 105 → 一百零五), in characters."""
    names = "零一二三四五六七八九"
    if n < 10:
        return names[n]
    if n < 20:
        return "十" + (names[n % 10] if n % 10 else "")
    if n >= 10000:
        return "".join(names[int(d)] for d in str(n))
    out = ""
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = (n // value) % 10
        if digit:
            if zero and out:
                out += "零"
            out += names[digit] + unit
            zero = False
        elif out:
            zero = True
    return out


def to_pinyin(text: str) -> str:
    """The espeak-ng input for ``text``: pinyin syllables with tone digits, commas as pauses."""
    text = re.sub(r"\d+", lambda m: number_words(int(m.group())), text)
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if _PAUSE.match(ch):
            j = i
            while j < len(text) and _PAUSE.match(text[j]):
                j += 1
            if out and out[-1] != ",":
                out.append(",")
            i = j
            continue
        for size in range(min(_LONGEST, len(text) - i), 0, -1):
            word = text[i : i + size]
            if word in WORDS:
                out.append(WORDS[word])
                i += size
                break
        else:
            if ch.isascii() and ch.isalpha():
                out.append(ch.upper())
            elif "\u3400" <= ch <= "\u9fff":
                # read by the voice's own Mandarin dictionary, a run of them as one word
                if out and _is_hanzi(out[-1][-1]) and i > 0 and text[i - 1] == out[-1][-1]:
                    out[-1] += ch
                else:
                    out.append(ch)
            i += 1  # anything else (symbols, brackets) is not spoken
    while out and out[-1] == ",":
        out.pop()
    return " ".join(out).replace(" ,", ",")
