"""Writes benchmarks/data/hk_topic_probe.tsv: Hong Kong-topic sentences in standard written Chinese and their
Cantonese counterparts (issue 28), made here, not taken from any evaluation or training set:

    .venv/bin/python benchmarks/hk_probe.py

Each of the FRAMES below was written by hand twice, as a Hong Kong news or everyday line in written Chinese and as
the same line in spoken Cantonese; the slots are filled with Hong Kong names (districts, institutions, transport
lines, hospitals, venues, schools, people) from the lists below, in turn, so that each name appears in several
frames and on both sides. Fixed order, no randomness: the file is the same on every run. Columns: id, frame, the names
used (comma separated), written, cantonese. The probe measures the judge and never trains it, and nothing is tuned on
it (a test checks that no probe sentence is a training segment).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

OUTPUT = Path(__file__).parent / "data" / "hk_topic_probe.tsv"
PAIRS_PER_FRAME = 5

NAMES = {
    "PLACE": "沙田 荃灣 觀塘 旺角 銅鑼灣 元朗 屯門 大埔 將軍澳 深水埗 黃大仙 西貢 長洲 東涌 北角 油麻地 "
             "尖沙咀 中環 上水 葵涌 香港仔 柴灣 天水圍 馬鞍山 九龍城 土瓜灣 鴨脷洲 粉嶺 紅磡 灣仔".split(),
    "INST": "立法會 食物環境衞生署 運輸署 房屋委員會 醫院管理局 教育局 消防處 入境事務處 廉政公署 港鐵公司 "
            "康樂及文化事務署 社會福利署 衞生署 環境保護署 警務處 機場管理局 渠務署 水務署 路政署 民政事務總署".split(),
    "LINE": "荃灣綫 觀塘綫 東涌綫 屯馬綫 東鐵綫 港島綫 南港島綫 將軍澳綫 機場快綫 輕鐵 天星小輪 電車 九巴 城巴 "
            "新渡輪".split(),
    "HOSP": "瑪麗醫院 威爾斯親王醫院 伊利沙伯醫院 屯門醫院 東區尤德夫人那打素醫院 廣華醫院 基督教聯合醫院 "
            "仁濟醫院 北區醫院 明愛醫院".split(),
    "VENUE": "啟德體育園 海港城 維多利亞公園 香港體育館 香港大球場 會展中心 香港文化中心 太古廣場 西九文化區 "
             "香港公園 海洋公園 太空館".split(),
    "SCHOOL": "香港大學 香港中文大學 香港科技大學 香港理工大學 香港城市大學 嶺南大學 香港浸會大學 "
              "聖保羅男女中學 拔萃女書院 皇仁書院".split(),
    "PERSON": "行政長官 財政司司長 運輸及物流局局長 陳大文 黃小明 李志強 張美玲 何國強 林嘉欣 梁偉明 吳麗華 "
              "劉家豪".split(),
}

# (written, cantonese), hand-written; {SLOT} and {SLOT2} take two different names of a list
FRAMES = [
    ("{INST}今日宣布，下月起推出新措施。", "{INST}今日話，下個月開始會推啲新措施。"),
    ("{LINE}今早服務受阻，乘客需改乘其他交通工具。", "{LINE}今朝出咗事，啲乘客要搭第二啲車。"),
    ("{PLACE}區議會討論單車徑擴建計劃。", "{PLACE}區議會傾緊單車徑擴建計劃。"),
    ("警方在{PLACE}拘捕一名涉嫌盜竊的男子。", "差佬喺{PLACE}拉咗個懷疑偷嘢嘅男人。"),
    ("{PLACE}今日錄得攝氏三十四度高溫。", "{PLACE}今日熱到三十四度，真係頂唔順。"),
    ("{PERSON}表示，政府會密切留意事態發展。", "{PERSON}話，政府會好留意件事點發展。"),
    ("市民可於{PLACE}的社區會堂領取防疫物資。", "市民可以去{PLACE}個社區會堂攞防疫物資。"),
    ("{HOSP}急症室的輪候時間超過八小時。", "{HOSP}急症室要等成八個鐘。"),
    ("{INST}呼籲市民保持警覺。", "{INST}叫大家小心啲。"),
    ("前往{PLACE}的巴士路線將於週末改道。", "去{PLACE}嗰啲巴士線今個週末會改路。"),
    ("{PLACE}一幢大廈昨晚發生火警，沒有人受傷。", "{PLACE}有幢大廈琴晚火燭，好彩冇人受傷。"),
    ("{VENUE}將於明年重新開放。", "{VENUE}出年先會重開㗎。"),
    ("{PERSON}在{PLACE}出席活動時接受記者訪問。", "{PERSON}喺{PLACE}出席活動嗰陣畀記者訪問。"),
    ("{LINE}將延長服務時間至凌晨一時。", "{LINE}會開多陣，開到凌晨一點先收。"),
    ("{INST}發言人表示，有關工程預計年底完成。", "{INST}發言人話，啲工程應該年尾搞掂。"),
    ("{PLACE}的樓價在過去一年下跌一成。", "{PLACE}啲樓價呢一年跌咗一成。"),
    ("天文台預測{PLACE}一帶今晚有大雨。", "天文台話{PLACE}嗰頭今晚會落大雨。"),
    ("{SCHOOL}的學生在比賽中獲得冠軍。", "{SCHOOL}啲學生喺比賽度攞咗冠軍。"),
    ("不少遊客週末前往{PLACE}購物。", "好多遊客週末都會去{PLACE}買嘢。"),
    ("{INST}正調查事件的起因。", "{INST}而家查緊件事點解會發生。"),
    ("{LINE}列車因信號故障延誤約二十分鐘。", "{LINE}啲車因為訊號壞咗，遲咗成廿分鐘。"),
    ("{PERSON}今日到{PLACE}視察新建的公共房屋。", "{PERSON}今日去{PLACE}睇吓啲新起嘅公屋。"),
    ("{PLACE}居民反對在附近興建焚化爐。", "{PLACE}啲街坊唔想喺附近起焚化爐。"),
    ("{HOSP}證實一名病人感染新型病毒。", "{HOSP}話有個病人染咗新病毒。"),
    ("我們明天一起去{PLACE}吃晚飯吧。", "我哋聽日一齊去{PLACE}食晚飯啦。"),
    ("你知道{VENUE}怎麼去嗎？", "你知唔知{VENUE}點去呀？"),
    ("他每天都坐{LINE}上班。", "佢日日都搭{LINE}返工。"),
    ("我在{PLACE}已經住了十年。", "我喺{PLACE}住咗十年喇。"),
    ("{INST}將向合資格人士發放津貼。", "{INST}會派津貼畀合資格嘅人。"),
    ("颱風襲港期間，{LINE}暫停服務。", "打風嗰陣，{LINE}停咗唔開。"),
    ("{PLACE}新開的圖書館有很多兒童讀物。", "{PLACE}新開嗰間圖書館有好多細路仔睇嘅書。"),
    ("{PERSON}認為{INST}應該加快審批程序。", "{PERSON}覺得{INST}應該批快啲。"),
    ("{VENUE}昨日舉行了一場大型音樂會。", "{VENUE}琴日搞咗場好大嘅音樂會。"),
    ("這間位於{PLACE}的茶餐廳已有五十年歷史。", "呢間喺{PLACE}嘅茶餐廳開咗五十年。"),
    ("{INST}提醒市民不要相信可疑電話。", "{INST}提大家唔好信啲古靈精怪嘅電話。"),
    ("從{PLACE}到{PLACE2}乘車大約需要四十分鐘。", "由{PLACE}去{PLACE2}搭車要成四十分鐘。"),
    ("她在{HOSP}當護士。", "佢喺{HOSP}做護士。"),
    ("{LINE}的新列車下月投入服務。", "{LINE}啲新車下個月開始行。"),
    ("政府計劃在{PLACE}興建新的體育館。", "政府諗住喺{PLACE}起個新體育館。"),
    ("{SCHOOL}今年錄取的學生比去年少。", "{SCHOOL}今年收少咗學生。"),
    ("請問{VENUE}幾點關門？", "唔該，{VENUE}幾點閂門？"),
    ("他們打算在{PLACE}開一間新店。", "佢哋打算喺{PLACE}開間新舖。"),
    ("{INST}的網站今日暫停服務。", "{INST}個網今日用唔到。"),
    ("昨晚{PLACE}的交通非常擠塞。", "琴晚{PLACE}啲車塞到爆。"),
    ("{PERSON}在會上沒有回應記者的提問。", "{PERSON}喺會上面冇答記者啲問題。"),
    ("{SCHOOL}的研究團隊發現一種新的治療方法。", "{SCHOOL}個研究團隊搵到種新嘅醫法。"),
    ("{HOSP}將於下月起延長門診時間。", "{HOSP}下個月開始門診會開耐啲。"),
    ("{VENUE}外面排了很長的隊。", "{VENUE}出面排咗好長條龍。"),
]


def pairs() -> list[tuple[str, str, str, str, str]]:
    """(id, frame number, names, written, cantonese), in a fixed order."""
    cycles = {slot: itertools.cycle(names) for slot, names in NAMES.items()}
    out = []
    for f, (written, cantonese) in enumerate(FRAMES):
        slots = re.findall(r"\{([A-Z]+?)(2?)\}", written)
        for k in range(PAIRS_PER_FRAME):
            fill = {}
            for slot, second in slots:
                key = slot + second
                name = next(cycles[slot])
                while name in fill.values():
                    name = next(cycles[slot])
                fill[key] = name
            out.append((f"p{f:02d}{k}", str(f), ",".join(fill.values()), written.format(**fill),
                        cantonese.format(**fill)))
    return out


def load(path: Path = OUTPUT) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        return [dict(zip(header, line.rstrip("\n").split("\t"), strict=True)) for line in f]


def main() -> None:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with OUTPUT.open("w", encoding="utf-8") as f:
        f.write("id\tframe\tnames\twritten\tcantonese\n")
        for row in pairs():
            f.write("\t".join(row) + "\n")
    print(f"wrote {OUTPUT}: {len(pairs())} pairs from {len(FRAMES)} frames")


if __name__ == "__main__":
    main()
