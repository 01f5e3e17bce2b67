"""Caption-like Korean text, written for this project (no corpus ships offline).

Lines are the kind of thing drama subtitles and variety captions say; the
generator mixes them with random KS X 1001 syllable strings so models learn
strokes rather than a vocabulary.
"""
from __future__ import annotations

import random

DRAMA = """
괜찮아? 많이 놀랐지?
나 이제 정말 가야 돼
왜 이제야 말하는 거야?
그때 네가 없었으면 난 어떻게 됐을까
우리 다시 시작할 수 있을까?
미안해, 내가 다 잘못했어
오늘따라 왜 이렇게 예뻐 보여?
그 사람이 누군지 알아?
거짓말하지 마
너 혼자 두고 어디 안 가
밥은 먹었어?
엄마한테는 비밀이야
회사에 무슨 일 있어요?
사장님, 이건 말도 안 됩니다
내일 아침 9시까지 보고서 올려
기억 안 나? 우리 처음 만난 날
나 너 좋아해
잠깐만, 그게 무슨 소리야?
이 반지 받아 줄래?
더 이상 참지 않을 거예요
선배, 저 할 말 있어요
그날 밤에 무슨 일이 있었던 거야
집에 데려다줄게
여기서 뭐 하세요?
비 오는데 우산도 없이 왔어?
당신 때문에 내 인생이 망가졌어
걱정 마, 내가 지켜 줄게
이게 다 무슨 일이야…
형, 나 좀 도와줘
너 진짜 대단하다
시간 있으면 커피 한잔할래요?
죄송합니다, 다시는 안 그럴게요
그 약속 아직 유효해?
살려 주세요!
누가 이런 짓을 한 거지?
지금 당장 병원으로 가요
할머니가 쓰러지셨대
다 끝났어, 이제 집에 가자
나한테 왜 그랬어?
조금만 더 기다려 줘
""".strip().splitlines()

VARIETY = """
대박!!
진짜 맛있다~
웃음 폭발ㅋㅋㅋ
오늘의 미션은?
갑자기 분위기 싸해짐
당황한 막내
역대급 먹방 시작
멤버들 깜짝 놀람!
이게 바로 프로의 실력
1분 남았습니다!
승리의 춤♡
점심 메뉴는 김치찌개
꿀잼 보장
아무도 예상 못 한 결과
드디어 도착!
정답은 3번?!
실화냐…
폭풍 칭찬
OK 사인 떨어짐
상금 100만 원
눈물 없이 볼 수 없는 이야기
제작진도 당황
고기 굽는 중
제발 한 번만!
완벽한 팀워크
오늘의 MVP
분량 확보 성공
이 구역의 먹보
텐션 최고조
지금 몇 시예요?
""".strip().splitlines()

NEWS = """
속보
오늘의 날씨
서울 낮 최고 27도
내일 전국 비 소식
인터뷰 김민수 (28)
출연자 제공
경기도 수원시
2026년 11월 26일
주요 뉴스
현장 연결
""".strip().splitlines()

LATIN = ["OK", "TV", "NEW", "BTS", "PD", "MC", "VS", "D-1", "KBS", "100%", "No.1", "Wow", "OMG"]
PUNCT = ["?", "!", "~", "…", "♡", "!?", "\"", "'", ".", ","]


def ks_x_1001_syllables() -> list[str]:
    """The 2,350 Hangul syllables of KS X 1001, via the EUC-KR codec (rows B0-C8)."""
    out = []
    for hi in range(0xB0, 0xC9):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes([hi, lo]).decode("euc-kr"))
            except UnicodeDecodeError:
                pass
    return out


_SYLLABLES = ks_x_1001_syllables()


def random_syllables(rng: random.Random, n_min: int = 2, n_max: int = 12) -> str:
    """Random syllable words with spaces, sometimes Latin/digits/punctuation mixed in."""
    words = []
    n = rng.randint(n_min, n_max)
    while sum(len(w) for w in words) < n:
        r = rng.random()
        if r < 0.8:
            words.append("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))))
        elif r < 0.9:
            words.append(str(rng.randint(0, 9999)))
        else:
            words.append(rng.choice(LATIN))
    s = " ".join(words)
    if rng.random() < 0.35:
        s += rng.choice(PUNCT)
    return s


def caption_text(rng: random.Random, kind: str) -> str:
    """One caption line of the given kind ('drama', 'variety', 'news')."""
    if rng.random() < 0.4:
        return random_syllables(rng, 2, 14 if kind == "drama" else 8)
    pool = {"drama": DRAMA, "variety": VARIETY, "news": NEWS}[kind]
    return rng.choice(pool)


# ----------------------------------------------------------------------------- the recogniser's classes

OCR_PUNCT = "?!~…♡\"'.,:()%-"
# What real captions add: symbols and the lone jamo of ㅋㅋ / ㅠㅠ / ㄷㄷ. A model trained on a
# charset without them is mapped onto this one by ``kseg.recognize.kseg_ocr.remap_head``.
CAPTION_EXTRA = "★☆♥♪※「」[]<>#+/·→&@=*^;_" + "".join(chr(c) for c in range(0x3131, 0x3164))


def default_charset() -> str:
    """KS X 1001's 2,350 syllables + every character of the caption corpus + Latin, digits,
    caption punctuation and the space (index order = class order after the CTC blank)."""
    chars = set(ks_x_1001_syllables())
    for pool in (DRAMA, VARIETY, NEWS, LATIN, PUNCT):
        chars.update("".join(pool))
    chars.update("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    chars.update(OCR_PUNCT)
    chars.update(CAPTION_EXTRA)
    chars.discard(" ")
    return " " + "".join(sorted(chars))
